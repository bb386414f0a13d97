"""LVR Workbench: `python app.py [--workspace DIR] [--host 127.0.0.1] [--port N] [--auth user:pass | --auth-file F]`.

Binds loopback unless told otherwise and refuses a non-loopback host without auth.
With no --workspace it opens (creating on first run) the demo workspace.
"""
from workbench.launch import main

if __name__ == "__main__":
    main()
