"""sclust: build HPC clusters and training desktops on EC2 (StarCluster's successor)."""

__version__ = "0.1.0"
