"""A small inventory package: the sample the nightly-docs job documents."""
