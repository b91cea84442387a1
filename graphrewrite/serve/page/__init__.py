"""The try-it page served at ``/`` (index.html: plain HTML and JavaScript, no build step)."""
