"""Start the web app (also the Hugging Face Space entry point).

Builds the app from the environment (see webui/config.py: GRADIO_SERVER_NAME, GRADIO_SERVER_PORT,
PIRENDER_* limits) and serves it until interrupted. Nothing else happens here. The import stays
inside the guard: the preview worker process re-imports this file, and needs none of the web app.
"""

if __name__ == "__main__":
    from webui.app import main

    main()
