"""SMS and USSD citizen-feedback gateway for Mongolia: the Flask app, its CLI and its channels."""
from gateway.app import create_app

__all__ = ["create_app"]
