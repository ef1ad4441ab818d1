"""The `vfpnet` command: argument parsing and printing only; the work lives in the layers below."""
