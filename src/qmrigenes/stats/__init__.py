"""Statistics: gene-set scores, regression, multiple comparisons and spatial nulls."""
