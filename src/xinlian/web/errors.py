"""The workbench's typed errors (64xx): each becomes an HTTP error with its code and name."""

from __future__ import annotations

from xinlian.errors import XinlianError


class WebError(XinlianError):
    code = 6400
    name = "web_error"
    status = 400  # the HTTP status it is answered with


class BadUsersFile(WebError):
    """The users file is unreadable or not of the documented shape."""

    code = 6401
    name = "bad_users_file"


class NotLoggedIn(WebError):
    code = 6402
    name = "not_logged_in"
    status = 401


class Forbidden(WebError):
    """The user's role on the project does not allow the action."""

    code = 6403
    name = "forbidden"
    status = 403


class BadPath(WebError):
    """A project or file name that is not a plain name inside the projects folder."""

    code = 6404
    name = "bad_path"


class NotFound(WebError):
    code = 6405
    name = "not_found"
    status = 404


class BadRequest(WebError):
    """A request body or argument that is not what the endpoint takes."""

    code = 6406
    name = "bad_request"


class NoChainKey(WebError):
    """A chain action was asked of a workbench started without a key file."""

    code = 6407
    name = "no_chain_key"


class BadWebArgument(WebError):
    """A bad `xinlian web` or `xinlian web-user` command-line value."""

    code = 6408
    name = "bad_web_argument"


class BadTrustAnchor(WebError):
    """A trust anchor (pin) that is not of the documented shape, or that cannot be made."""

    code = 6409
    name = "bad_trust_anchor"
