"""Scale-out: several media nodes (Asterisk + `hotline serve` each) behind one SIP proxy
(Kamailio), sharing one PostgreSQL database."""
