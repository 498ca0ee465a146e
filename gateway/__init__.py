"""SMS and USSD citizen-feedback gateway for Mongolia: the Flask app, its CLI and its channels."""

__all__ = ["create_app"]


def __getattr__(name: str):
    # Loaded on first use, so `gateway --help` and other light imports of the package skip Flask and the database.
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
