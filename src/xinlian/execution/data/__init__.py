"""The data model of issue #13: collections of typed records and their indexes."""
