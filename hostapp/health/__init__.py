"""What is wrong and how to fix it: `hostapp doctor`'s checks and the diagnostics bundle."""
