/*
 * sk_tlsfile.c - the centre's certificate and key files (see sk_tlsfile.h): read whole into
 * memory and handed to the TLS engine (proto/sk_tls.c), or made there and written here.
 *
 * Owns nothing between calls. It must never overwrite an existing key or certificate (devices
 * pin the key: replacing it would lock every one of them out), never leave a new key file
 * behind when making the pair failed, never follow a symbolic link when creating one, and never
 * free a buffer that held a private key without wiping it.
 */
#include "sk_tlsfile.h"

#include "sk_err.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole of a regular file of at most SK_TLSFILE_MAX bytes into out (one allocation, so a
 * key is never left behind in a buffer given back by a realloc). 0, or -1 with errno set. */
static int read_file(const char *path, sk_buf *out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > SK_TLSFILE_MAX) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        if (S_ISREG(st.st_mode) && st.st_size <= 0)
            errno = ENODATA;
        goto out;
    }
    if (sk_buf_reserve(out, (size_t)st.st_size) != 0) {
        errno = ENOMEM;
        goto out;
    }
    while (out->len < (size_t)st.st_size) {
        ssize_t r = read(fd, out->data + out->len, (size_t)st.st_size - out->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* shorter than fstat said: changed under us */
            goto out;
        }
        out->len += (size_t)r;
    }
    rc = 0;
out:
    if (close(fd) != 0 && rc == 0)
        rc = -1;
    return rc;
}

static void wipe(sk_buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    sk_buf_free(b);
}

int sk_tls_pin_from_cert_file(uint8_t pin[SK_TLS_PIN_LEN], const char *cert_pem_path, char *err,
                              size_t errlen)
{
    sk_buf b = SK_BUF_INIT;
    int rc;

    if (cert_pem_path == NULL) {
        sk_err_printf(err, errlen, "no certificate file given");
        return -SK_E_BAD_VALUE;
    }
    if (read_file(cert_pem_path, &b) != 0) {
        sk_err_printf(err, errlen, "cannot open certificate %s: %s", cert_pem_path,
                      strerror(errno));
        rc = -SK_E_INTERNAL;
    } else {
        rc = sk_tls_pin_from_cert_pem(pin, b.data, b.len, cert_pem_path, err, errlen);
    }
    sk_buf_free(&b);
    return rc;
}

int sk_tls_ctx_new_server(sk_tls_ctx **out, const char *cert_pem_path, const char *key_pem_path,
                          char *err, size_t errlen)
{
    sk_buf cert = SK_BUF_INIT, key = SK_BUF_INIT;
    int rc = -SK_E_INTERNAL;

    if (cert_pem_path == NULL || key_pem_path == NULL) {
        sk_err_printf(err, errlen, "a TLS server needs a certificate and a key file");
        return -SK_E_BAD_VALUE;
    }
    if (read_file(cert_pem_path, &cert) != 0) {
        sk_err_printf(err, errlen, "cannot load certificate %s: %s", cert_pem_path,
                      strerror(errno));
        goto out;
    }
    if (read_file(key_pem_path, &key) != 0) {
        sk_err_printf(err, errlen, "cannot load private key %s: %s", key_pem_path, strerror(errno));
        goto out;
    }
    rc = sk_tls_ctx_new_server_pem(out, cert.data, cert.len, cert_pem_path, key.data, key.len,
                                   key_pem_path, err, errlen);
out:
    wipe(&key);
    sk_buf_free(&cert);
    return rc;
}

/* Write len bytes to a new file (must not exist) with mode, and fsync it. */
static int write_new_file(const char *path, const uint8_t *data, size_t len, mode_t mode, char *err,
                          size_t errlen)
{
    size_t off = 0;
    int fd, rc = 0;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        sk_err_printf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return errno == EEXIST ? -SK_E_BAD_VALUE : -SK_E_STORE_IO;
    }
    if (fchmod(fd, mode) != 0) { /* exact mode whatever the umask */
        sk_err_printf(err, errlen, "cannot set the mode of %s: %s", path, strerror(errno));
        rc = -SK_E_STORE_IO;
        goto out;
    }
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            sk_err_printf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -SK_E_STORE_IO;
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        sk_err_printf(err, errlen, "cannot sync %s: %s", path, strerror(errno));
        rc = -SK_E_STORE_IO;
    }
out:
    if (close(fd) != 0 && rc == 0) {
        sk_err_printf(err, errlen, "cannot close %s: %s", path, strerror(errno));
        rc = -SK_E_STORE_IO;
    }
    if (rc != 0)
        unlink(path);
    return rc;
}

int sk_tls_make_self_signed_validity(const char *cert_path, const char *key_path,
                                     const char *common_name, int64_t not_before_s,
                                     int64_t not_after_s, char *err, size_t errlen)
{
    sk_buf cert = SK_BUF_INIT, key = SK_BUF_INIT;
    int rc;

    if (cert_path == NULL || key_path == NULL) {
        sk_err_printf(err, errlen,
                      "bad arguments: paths, a common name of 1..64 bytes and a validity "
                      "that ends after it starts (within 100 years) are needed");
        return -SK_E_BAD_VALUE;
    }
    if (strcmp(cert_path, key_path) == 0) {
        sk_err_printf(err, errlen, "certificate and key must be different files");
        return -SK_E_BAD_VALUE;
    }
    rc = sk_tls_make_self_signed_pem(&cert, &key, common_name, not_before_s, not_after_s, err,
                                     errlen);
    if (rc != 0)
        goto out;
    rc = write_new_file(key_path, key.data, key.len, 0600, err, errlen);
    if (rc != 0)
        goto out;
    rc = write_new_file(cert_path, cert.data, cert.len, 0644, err, errlen);
    if (rc != 0)
        unlink(key_path);
out:
    wipe(&key);
    sk_buf_free(&cert);
    return rc;
}

int sk_tls_make_self_signed(const char *cert_path, const char *key_path, const char *common_name,
                            int days, char *err, size_t errlen)
{
    if (days <= 0 || days > 36500) {
        sk_err_printf(err, errlen, "validity must be 1..36500 days");
        return -SK_E_BAD_VALUE;
    }
    /* From a day ago, so a verifier that does check dates accepts it despite small skews. */
    return sk_tls_make_self_signed_validity(cert_path, key_path, common_name, -86400,
                                            (int64_t)days * 86400, err, errlen);
}
