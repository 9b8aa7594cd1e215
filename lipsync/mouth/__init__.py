"""Weight-free mouth animation: landmark poses from speech, neutralisation, warping, interior."""
