"""Historical imports: clicks and conversions with their own timestamps."""
