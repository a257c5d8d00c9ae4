#include "server/core/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace herald {

absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const TlsOptions& o,
                                                                   bool server) {
  auto ctx = std::make_shared<asio::ssl::context>(server ? asio::ssl::context::tls_server
                                                         : asio::ssl::context::tls_client);
  asio::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                o.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (!o.cert_file.empty()) {
    ctx->use_certificate_chain_file(o.cert_file, ec);
    if (ec) return absl::InvalidArgumentError("tls: cannot load cert_file " + o.cert_file);
  }
  if (!o.key_file.empty()) {
    ctx->use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError("tls: cannot load key_file " + o.key_file);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      return absl::InvalidArgumentError("tls: key_file does not match cert_file");
    }
  }
  if (!o.ca_file.empty()) {
    ctx->load_verify_file(o.ca_file, ec);
    if (ec) return absl::InvalidArgumentError("tls: cannot load ca_file " + o.ca_file);
  }
  if (server) {
    if (o.verify) {
      ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    } else {
      ctx->set_verify_mode(asio::ssl::verify_none);
    }
  } else {
    // A route dialler always checks the other node's certificate against the CA.
    ctx->set_verify_mode(o.ca_file.empty() ? asio::ssl::verify_none : asio::ssl::verify_peer);
  }
  return ctx;
}

std::vector<std::string> PeerCertificateIdentities(SSL* ssl) {
  std::vector<std::string> out;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int want : {GEN_EMAIL, GEN_DNS, GEN_URI}) {
      for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type != want) continue;
        const ASN1_IA5STRING* s = n->d.ia5;
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len > 0) out.emplace_back(data, static_cast<size_t>(len));
  BIO_free(bio);
  X509_free(cert);
  return out;
}

}  // namespace herald
