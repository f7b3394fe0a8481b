"""FastAGI services for the dialplan: caller profile, business hours, called-number routes."""
