"""The environment variables the scripts read, by name only: argument help can name them without
importing the modules that use them."""

HOST_ENV = "POSTHOG_HOST"  # us, eu or a URL
PROJECT_ENV = "POSTHOG_PROJECT_ID"
ROUTE_ENV = "POSTHOG_ROUTE"  # the route family the user's own links use, set once like the host
KEY_ENV = "POSTHOG_PERSONAL_API_KEY"  # live mode; read only from the environment, never a flag
