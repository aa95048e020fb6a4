"""A cluster: the edge (Kamailio), N Asterisk nodes and one engine over them."""
