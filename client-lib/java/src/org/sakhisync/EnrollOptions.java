package org.sakhisync;

/**
 * What {@link SakhiClient#enroll} needs ({@code sakhi_enroll_options}): the centre's server, the
 * one-time code, and the pin of the centre's TLS key handed over with the code. Plaintext mode
 * exists for tests against a loopback server only.
 */
public final class EnrollOptions {
    String host;
    int port;
    String code;
    String label;
    String serverPin;
    boolean plaintext;

    /** The centre's server (name or address) and port. */
    public EnrollOptions server(String host, int port) {
        this.port = Check.port(port);
        this.host = host;
        return this;
    }

    /** The one-time enrollment code from the administrator. */
    public EnrollOptions code(String code) {
        this.code = code;
        return this;
    }

    /** Names the device for administrators (at most 64 bytes); may be null. */
    public EnrollOptions label(String label) {
        this.label = label;
        return this;
    }

    /** SHA-256 of the centre key's SubjectPublicKeyInfo: 64 hex digits (or 32 colon pairs). */
    public EnrollOptions serverPin(String pin) {
        this.serverPin = pin;
        return this;
    }

    /** Tests on one machine only: no TLS, loopback addresses only, no server pin. */
    public EnrollOptions plaintext(boolean on) {
        this.plaintext = on;
        return this;
    }
}
