"""Model resources (S3, Hugging Face) fetched once into the node's model cache and mounted read-only."""
