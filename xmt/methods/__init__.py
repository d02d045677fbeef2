"""Training procedures (source, TGMB, TGKT, SHOT, SOCKET...) and inference."""
