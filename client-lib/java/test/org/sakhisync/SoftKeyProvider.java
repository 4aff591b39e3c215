package org.sakhisync;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Cipher;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;

/*
 * A key provider in software for the tests, as an app would write one over the Android
 * Keystore: AES-256-GCM under a key held in memory (the "hardware"), the PIN tag as additional
 * data (so a wrong tag fails authentication), a failure counter outside the store and a limit
 * after which the key is destroyed.
 */
final class SoftKeyProvider implements KeyProvider {
    private SecretKey key;
    private final int limit;
    private final SecureRandom random = new SecureRandom();
    int failures;
    int wraps;
    int unwraps;
    RuntimeException throwNext; /* thrown by the next call, once */

    SoftKeyProvider(int limit) throws GeneralSecurityException {
        KeyGenerator g = KeyGenerator.getInstance("AES");
        g.init(256);
        this.key = g.generateKey();
        this.limit = limit;
    }

    private void maybeThrow() {
        RuntimeException e = throwNext;
        if (e != null) {
            throwNext = null;
            throw e;
        }
    }

    @Override
    public byte[] wrap(byte[] secret, byte[] pinTag) throws SakhiException {
        wraps++;
        maybeThrow();
        try {
            byte[] iv = new byte[12];
            random.nextBytes(iv);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
            c.updateAAD(pinTag);
            byte[] sealed = c.doFinal(secret);
            byte[] blob = Arrays.copyOf(iv, iv.length + sealed.length);
            System.arraycopy(sealed, 0, blob, iv.length, sealed.length);
            failures = 0;
            return blob;
        } catch (GeneralSecurityException e) {
            throw new SakhiException(Sakhi.EKEYPROVIDER, "wrap: " + e, "");
        }
    }

    @Override
    public byte[] unwrap(byte[] blob, byte[] pinTag) throws SakhiException {
        unwraps++;
        maybeThrow();
        if (key == null)
            throw new SakhiException(Sakhi.ELOCKED, "key destroyed", "");
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, blob, 0, 12));
            c.updateAAD(pinTag);
            byte[] secret = c.doFinal(blob, 12, blob.length - 12);
            failures = 0;
            return secret;
        } catch (javax.crypto.AEADBadTagException e) {
            if (++failures >= limit) {
                key = null;
                throw new SakhiException(Sakhi.ELOCKED, "too many wrong PINs", "");
            }
            throw new SakhiException(Sakhi.EPIN, "wrong PIN", "");
        } catch (GeneralSecurityException e) {
            throw new SakhiException(Sakhi.EKEYPROVIDER, "unwrap: " + e, "");
        }
    }
}
