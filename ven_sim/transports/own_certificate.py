"""Let a client's TLS connection drop its own certificate and key once its handshake is done.

OpenSSL's `SSL_new` gives each connection a reference to the certificate and key its context
holds then, and the connection keeps them until it is freed, though a client uses them only
in the handshake: the fleet's context offers no post-handshake authentication (TLS 1.3) and
refuses renegotiation (TLS 1.2, `OP_NO_RENEGOTIATION`), which would ask for them again. A
fleet's VENs share one context and load their own certificate into it as each socket is
wrapped (client_tls.py), so a connection holds the only reference to its certificate and
key, parsed: about 7 KB a VEN of RSS (`ven-sim bench tls-memory`, the `one_context` side).
`SSL_certs_clear` lets go of them.

Python's `ssl` module offers neither that call nor the connection's `SSL` pointer. The pointer
is read from CPython's `_ssl._SSLSocket` object, where it follows the object's header and its
socket's weakref, and used only after two checks: the word after it is the object's context,
and the `SSL` it points to names the object as its owner (CPython's app data, ex-data 0).
Where either differs, or the library has no `SSL_certs_clear`, nothing is done: the connection
keeps its certificate, as it always did. A reconnect makes a new connection, loading the
certificate again (client_tls.py).
"""

from __future__ import annotations

import ctypes
import ssl
from typing import Any

__all__ = ["release_own_certificate"]

# The words of CPython's PySSLSocket (Modules/_ssl.c): ob_refcnt, ob_type, Socket, ssl, ctx.
_SSL_WORD, _CONTEXT_WORD = 3, 4


def _libssl() -> Any:
    """The OpenSSL CPython's `_ssl` module is linked with, or None."""
    import _ssl  # the module that holds the SSL pointers, and links the library

    try:  # PyDLL: these calls are short and call no Python, so they keep the GIL
        library = ctypes.PyDLL(getattr(_ssl, "__file__", None))
        clear, owner = library.SSL_certs_clear, library.SSL_get_ex_data
    except (OSError, AttributeError):
        return None
    clear.argtypes, clear.restype = [ctypes.c_void_p], None
    owner.argtypes, owner.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_void_p
    return library


_library = _libssl()


def _ssl_pointer(ssl_object: Any) -> int | None:
    """The `SSL *` of a CPython `_ssl._SSLSocket`, if the checks above hold."""
    words = (ctypes.c_void_p * (_CONTEXT_WORD + 1)).from_address(id(ssl_object))
    if words[_CONTEXT_WORD] != id(ssl_object.context):  # read before any pointer is followed
        return None
    pointer = words[_SSL_WORD]
    if not pointer or _library.SSL_get_ex_data(pointer, 0) != id(ssl_object):
        return None
    return int(pointer)


def release_own_certificate(sock: ssl.SSLSocket) -> bool:
    """Let `sock`, a client connection whose handshake is done, free its own certificate and
    key (freed if no other connection or context holds them). True if released."""
    ssl_object = getattr(sock, "_sslobj", None)
    if _library is None or ssl_object is None or type(ssl_object).__name__ != "_SSLSocket":
        return False
    pointer = _ssl_pointer(ssl_object)
    if pointer is None:
        return False
    _library.SSL_certs_clear(pointer)
    return True
