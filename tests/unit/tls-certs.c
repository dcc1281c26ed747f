/*
 * tls-certs: certificates made on the fly for the unit tests (see
 * tls-certs.h).
 */
#include "tls-certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

struct tls_ca {
    char *dir;
    char *file;
    EVP_PKEY *key;
    X509 *cert;
    long serial;
};

static void
must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "tls-certs: %s failed\n", what);
        abort();
    }
}

static X509 *
make_cert(const char *cn, EVP_PKEY *key, const X509 *issuer,
          EVP_PKEY *issuer_key, long serial, int is_ca)
{
    X509 *x = X509_new();
    must(x != NULL, "X509_new");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 30);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *) cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? (X509 *) issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext
        = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                              is_ca ? "critical,CA:TRUE" : "CA:FALSE");
    must(ext && X509_add_ext(x, ext, -1), "basic constraints");
    X509_EXTENSION_free(ext);
    must(X509_sign(x, issuer_key, EVP_sha256()) > 0, "X509_sign");
    return x;
}

static void
write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
    FILE *f = fopen(path, "w");
    must(f != NULL, path);
    if (key) {
        must(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL),
             "PEM_write_PrivateKey");
    }
    if (cert) {
        must(PEM_write_X509(f, cert), "PEM_write_X509");
    }
    fclose(f);
}

struct tls_ca *
tls_ca_create(const char *dir, const char *name)
{
    struct tls_ca *ca = xzalloc(sizeof *ca);
    ca->dir = xstrdup(dir);
    ca->key = EVP_EC_gen("P-256");
    must(ca->key != NULL, "EVP_EC_gen");
    char *cn = xasprintf("%s CA", name);
    ca->cert = make_cert(cn, ca->key, NULL, ca->key, 1, 1);
    free(cn);
    ca->file = xasprintf("%s/%s-ca.pem", dir, name);
    write_pem(ca->file, NULL, ca->cert);
    ca->serial = 2;
    return ca;
}

void
tls_ca_destroy(struct tls_ca *ca)
{
    if (ca) {
        EVP_PKEY_free(ca->key);
        X509_free(ca->cert);
        free(ca->file);
        free(ca->dir);
        free(ca);
    }
}

const char *
tls_ca_file(const struct tls_ca *ca)
{
    return ca->file;
}

void
tls_ca_issue(struct tls_ca *ca, const char *cn, char **key_file,
             char **cert_file)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    must(key != NULL, "EVP_EC_gen");
    X509 *cert = make_cert(cn, key, ca->cert, ca->key, ca->serial++, 0);
    *key_file = xasprintf("%s/%s-key.pem", ca->dir, cn);
    *cert_file = xasprintf("%s/%s-cert.pem", ca->dir, cn);
    write_pem(*key_file, key, NULL);
    write_pem(*cert_file, NULL, cert);
    EVP_PKEY_free(key);
    X509_free(cert);
}
