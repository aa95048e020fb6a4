"""The SIP edge of a cluster: Kamailio (registrar, location, dispatcher), managed like Asterisk."""
