"""Inference services: jobs that expose container ports, served to the poster through the grid's SSH edge.

- `expose`: every `expose` shape of the job format as a typed plan (ports and their health checks);
- `health`: the http/websocket checks, run from the node against the container (ready / unhealthy);
- `network`: the per-job internal bridge a service container sits on, and its address there;
- `sshkey`: the node's Ed25519 wallet key as an SSH client key (it signs; the secret never leaves the keystore);
- `tunnel`: the node's outbound SSH connection to the edge, one reverse forward per exposed port.

The grid's side is `hostapp/localgrid/tunnel_edge.py`; the design and its threat model: docs/services.md.
"""
