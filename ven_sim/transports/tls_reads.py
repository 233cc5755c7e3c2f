"""A TLS socket that reads a record at once and hands paho its small reads from memory.

paho reads a packet in three or more `recv` calls (the command byte, the remaining length a
byte at a time, then the body), and each is an `SSL_read` that gives up the GIL. With the
kernel thread busy, every hand-over costs the network loop up to a switch interval before it
runs again: in a 1,000-VEN ramp the loop made 24,675 TLS reads for 7,641 packets. Here one
`SSL_read` takes what is there (a record, usually a whole packet) and the rest of paho's reads
of that packet come from the buffer; and `pending` (the loop asks after every read) asks
OpenSSL, another GIL hand-over, only when that record may hold more. `drained` tells the loop
whether the last `SSL_read` found the socket empty, so it can read a busy connection dry.

Reading dry ends with one `SSL_read` that finds nothing, and it cost more than one that found
a packet (OpenSSL's error queue, an `SSLWantReadError` made and raised through three frames:
about 7 µs a time in a fleet's fan-out, one or two per VEN). `read_buffer` asks the kernel
first (`FIONREAD`, under a microsecond) when no `select()` said the socket was ready: after a
read that found data, with OpenSSL holding none of its record. What the kernel said it held
is then counted down by each read (at least its data and a record's overhead), so a burst (a
VTN reading a fan-out's acks) asks again only when that count runs out.
"""

from __future__ import annotations

import fcntl
import socket
import ssl
import sys
import termios

__all__ = ["READ_CHUNK", "BufferedTlsSocket", "wrap_client"]

READ_CHUNK = 16384  # a TLS record holds at most 16 KB of data
# What a TLS record adds to its data on the wire with the AEAD ciphers (TLS 1.2 AES-GCM: a
# 5-byte header, an 8-byte nonce, a 16-byte tag; TLS 1.3: 22 bytes). What is left in the
# kernel is estimated with it: too low costs one more FIONREAD; too high (a CBC suite's
# padding, a record with no data such as a ticket used up inside an SSL_read) one SSL_read
# that finds nothing, as every dry read did before the estimate.
RECORD_OVERHEAD = 29


class BufferedTlsSocket(ssl.SSLSocket):
    """`recv` serves from what the last `SSL_read` returned; `pending` counts it too, so the
    loop reads it all before it waits for the socket again."""

    _buffer = memoryview(b"")  # what the last SSL_read returned; _at: how much paho has had
    _at = 0
    _more = True  # the last SSL_read filled READ_CHUNK, so its record may hold more
    # The kernel held no more, for the loop: the last SSL_read found nothing, or FIONREAD 0.
    drained = True
    _kernel_bytes = 0  # an estimate of what the kernel still holds, from its last FIONREAD

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        buffer, at = self._buffer, self._at
        if at >= len(buffer):
            data = self._ssl_read(flags)
            if len(data) <= buflen:
                return data
            buffer, at = memoryview(data), 0
            self._buffer = buffer
        end = min(at + buflen, len(buffer))
        self.consumed(end)
        return bytes(buffer[at:end])

    def read_buffer(self) -> tuple[memoryview, int] | None:
        """The last `SSL_read`'s data and how much of it has been read; with all of it read,
        one `SSL_read` first (an empty view at EOF; `SSLWantReadError` as `recv` raises it).
        None, without an `SSL_read`, if the last read found data, OpenSSL holds no more of
        its record and the kernel holds nothing for the socket: the reader has read it dry.
        (EOF or an error shows at the next `select()`: level-triggered, it reports the socket
        again, and the read after it is an `SSL_read`, as `drained` is then set.)
        A reader that takes whole packets from it says how far with `consumed`."""
        buffer, at = self._buffer, self._at
        if at >= len(buffer):
            if not (self.drained or self._more or self._kernel_bytes > 0):
                self._kernel_bytes = self._kernel_queue()
                if not self._kernel_bytes:
                    self.drained = True
                    return None
            buffer, at = memoryview(self._ssl_read()), 0
            self._buffer, self._at = buffer, 0
        return buffer, at

    def _kernel_queue(self) -> int:
        """How many bytes the socket's receive queue holds (records, or parts of one)."""
        waiting = bytearray(4)
        fcntl.ioctl(self.fileno(), termios.FIONREAD, waiting)
        return int.from_bytes(waiting, sys.byteorder)

    def consumed(self, end: int) -> None:
        """The data of `read_buffer` up to `end` has been read. Read to its end, the buffer is
        let go (the class's empty one in its place): a VEN's last packet, kept until its next,
        was 0.6 KB of its memory."""
        if end < len(self._buffer):
            self._at = end
        else:
            self._buffer, self._at = BufferedTlsSocket._buffer, 0

    def _ssl_read(self, flags: int = 0) -> bytes:
        try:
            data = super().recv(READ_CHUNK, flags)
        except ssl.SSLWantReadError:  # nothing there: paho treats it as would-block
            self.drained = True
            self._kernel_bytes = 0
            raise
        self.drained = False
        self._kernel_bytes -= len(data) + RECORD_OVERHEAD
        self._more = len(data) == READ_CHUNK
        return data

    def pending(self) -> int:
        # SSL_pending gives up the GIL too; an SSL_read short of READ_CHUNK ended its record,
        # and OpenSSL (no read-ahead) decrypts no further than that record.
        buffered = len(self._buffer) - self._at
        if buffered:
            return buffered
        return super().pending() if self._more else 0


def wrap_client(context: ssl.SSLContext, sock: socket.socket, host: str) -> BufferedTlsSocket:
    """`context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)`, as a
    `BufferedTlsSocket` (the class `SSLContext.wrap_socket` itself uses, its own factory)."""
    return BufferedTlsSocket._create(  # type: ignore[attr-defined,no-any-return]
        sock=sock, server_side=False, do_handshake_on_connect=False,
        suppress_ragged_eofs=True, server_hostname=host, context=context, session=None,
    )
