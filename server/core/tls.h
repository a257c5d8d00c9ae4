// TLS contexts and peer identities for the client port, routes and the
// monitoring port, on OpenSSL 3 through Asio's ssl support.
//
// Contexts are immutable once built and shared (shared_ptr) by the
// connections that use them; a reload builds new ones, so existing
// connections keep theirs. Thread-safe.
#ifndef HERALD_SERVER_CORE_TLS_H_
#define HERALD_SERVER_CORE_TLS_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config/options.h"

namespace herald {

// `server`: the accepting side (client port, accepted routes); otherwise the
// dialling side of a route. Fails on unreadable or mismatched files.
absl::StatusOr<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const TlsOptions& options,
                                                                   bool server);

// What a verified peer certificate says about its owner, in the order
// verify_and_map tries them (as nats-server): email SANs, DNS SANs, URI SANs,
// then the subject DN in RFC 2253 form ("CN=alice,O=Acme").
std::vector<std::string> PeerCertificateIdentities(SSL* ssl);

}  // namespace herald

#endif  // HERALD_SERVER_CORE_TLS_H_
