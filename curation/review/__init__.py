"""`opseg review`: radiologists score masks in the browser; scores go to OUT/reviews."""
