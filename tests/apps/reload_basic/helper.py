SUFFIX = "h0"
