#include "adapters/common/tls.hpp"

#include <stdexcept>

namespace relance::net {

void configure_client_tls(boost::asio::ssl::context& ctx, const ClientOptions& options) {
  // TLS 1.2 is the floor every server we talk to supports; older versions are broken.
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::system::error_code ec;
  if (options.system_cas) {
    ctx.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system CA certificates: " + ec.message());
  }
  for (const auto& file : options.ca_files) {
    if (file.empty()) continue;
    ctx.load_verify_file(file.string(), ec);
    if (ec) throw std::runtime_error("CA file " + file.string() + ": " + ec.message());
  }
}

std::string handshake_failure_detail(const boost::system::error_code& ec, SSL* ssl) {
  std::string detail = ec.message();
  if (auto v = SSL_get_verify_result(ssl); v != X509_V_OK) detail += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  return detail;
}

}  // namespace relance::net
