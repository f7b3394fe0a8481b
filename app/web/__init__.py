"""The web pages: served by the API app from files in `static/`, no CDN."""
