// TLS as every client of relance does it (G4): TLS 1.2 at least, the peer
// verified against the system CAs plus the configured CA files, SNI, and the
// host name checked against the certificate. Shared by the HTTP and the
// WebSocket clients; included only by their (Beast) translation units.
#pragma once

#include "adapters/common/http_client.hpp"
#include "adapters/common/url_target.hpp"

#include <boost/asio/ssl.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace relance::net {

// Throws std::runtime_error when the system CAs or a CA file cannot be loaded
// (a configuration error, reported at start).
void configure_client_tls(boost::asio::ssl::context& ctx, const ClientOptions& options);

// SNI and host-name verification on a stream about to handshake with
// `target`. Returns an error text, empty when all is set.
template <class SslStream>
std::string prepare_client_handshake(SslStream& stream, const UrlTarget& target) {
  if (!target.ip_literal && !SSL_set_tlsext_host_name(stream.native_handle(), target.host.c_str()))
    return "cannot set SNI for " + target.host;
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(target.host));
  return {};
}

// Why a handshake failed, with OpenSSL's certificate verdict when there is one.
std::string handshake_failure_detail(const boost::system::error_code& ec, SSL* ssl);

}  // namespace relance::net
