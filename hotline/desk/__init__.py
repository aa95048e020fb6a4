"""The web desktop: agents' and supervisors' pages on the engine's HTTP server.

``security`` password hashing and CSRF (pure), ``sessions`` server-side sessions (pure),
``i18n`` the message catalogue, ``users`` the user accounts (SQL), ``live`` the websocket hub fed
by the ACD's decisions (screen-pop, agent state, wallboard), ``resources`` the pages and calls.
"""
