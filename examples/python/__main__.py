"""Deploys examples/hello on the local Docker engine from Python: the same deployment as examples/local.

`pulumi install` generates the `pulumi_lisp_deploy` SDK from the component package named in Pulumi.yaml;
`pulumi up` builds the image and runs it on http://127.0.0.1:<port>, health-checked on /healthz.
"""

import os

import pulumi
import pulumi_lisp_deploy as lisp_deploy

config = pulumi.Config()

# The app directory relative to where the program runs (this directory), so no machine's absolute path
# reaches a resource input.
app_dir = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hello"))

# Optional inputs are left out rather than passed as None: the component receives None as null.
app_source = {
    "path": app_dir,
    # Quicklisp by default; "debian" takes the libraries from Debian's cl-* packages instead.
    "dependency_source": {"kind": config.get("dependencySource") or "quicklisp"},
    "health_path": "/healthz",
}
if config.get("buildNetwork"):
    # "host" when the build's RUN steps need the host network (engines without a bridge).
    app_source["build_network"] = config.get("buildNetwork")
if config.get("greeting"):
    app_source["environment"] = {"GREETING": config.require("greeting")}
if config.get_secret("apiToken") is not None:
    # A secret reaches the app as an environment variable, never in a preview, a log or plain state:
    # `pulumi config set --secret apiToken` (stored encrypted in the stack's config and state).
    app_source["secret_environment"] = {"API_TOKEN": config.require_secret("apiToken")}

local_target = {
    "port": config.get_int("port") or 8080,
    # "host" on engines started with --bridge=none.
    "network_mode": config.get("networkMode") or "bridge",
}
if config.get("containerName"):
    local_target["container_name"] = config.get("containerName")

app = lisp_deploy.WebApp("hello", app=app_source, target={"kind": "local", "local": local_target})

pulumi.export("url", app.url)
pulumi.export("imageRef", app.image_ref)
pulumi.export("logsCommand", app.logs_command)
pulumi.export("dockerfile", app.dockerfile)
