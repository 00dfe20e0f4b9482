"""Figure builders, one module per topic. Each returns a matplotlib Figure."""

#: Categorical colours safe for the common colour-vision deficiencies (Okabe & Ito, 2008):
#: blue, vermillion, bluish green, reddish purple, orange, sky blue, yellow, black. Figures that
#: code categories by colour use these, in this order, and add a second mark (marker, line
#: style or hatch) where categories sit side by side.
CATEGORICAL = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: Markers that go with CATEGORICAL, for the redundant mark.
CATEGORICAL_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

