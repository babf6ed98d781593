"""Helpers shared by every Seams app and owned by none: the API's error shape, conditional
GET and the OpenAPI descriptions of errors. It imports no Seams app, so the catalogue
(`taxonomy`), which sits below incidents, can use them too."""
