package org.sakhisync;

/**
 * One of the centre's servers the device knows ({@code sakhi_server_get}): its primary and
 * standbys, each with the pin of its own TLS key, as enrollment gave them. A sync begins with the
 * one marked {@link #primary} and moves on to the next when the primary is lost
 * (docs/REPLICATION.md, "Devices and failover").
 */
public final class Server {
    /** Name or address, without brackets for IPv6. */
    public final String host;
    public final int port;
    /** Its key's pin (64 hex digits), "" in plaintext mode. */
    public final String pin;
    /** The server the next sync begins with (the one that last took a sync as the primary). */
    public final boolean primary;

    Server(long portAndPrimary, byte[][] s) {
        port = (int) (portAndPrimary & 0xffff);
        primary = (portAndPrimary >>> 32) != 0;
        host = Native.str(s[0]);
        pin = Native.str(s[1]);
    }

    @Override
    public String toString() {
        return host + ":" + port + (primary ? " (primary)" : "");
    }
}
