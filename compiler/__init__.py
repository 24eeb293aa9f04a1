"""NPL middle end: holes and filling, lowering, IR, passes."""
