"""HTTP glue shared by the API and the console: context, request auth, error mapping, middleware.

Importing this package registers the raw-path convertor, so it runs before any route module
(they all import from here) declares a route.
"""

from zevvy_server.web.rawpath import install_convertor

install_convertor()
