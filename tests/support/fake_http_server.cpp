// The fakes' only Beast translation unit (G2: keep Beast in few TUs).
#include "fake_http_server.hpp"

#include "messages/text/ascii.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <thread>

namespace relance::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

std::string FakeRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (text::iequals(n, name)) return v;
  return {};
}

struct FakeHttpServer::Impl {
  explicit Impl(Handler h) : handler(std::move(h)), acceptor(io) {}

  Handler handler;
  std::optional<FakeWebSocketHandler> ws;  // WebSocket upgrades accepted when set
  std::unique_ptr<asio::ssl::context> tls;  // HTTPS when set
  asio::io_context io;
  tcp::acceptor acceptor;
  std::uint16_t port = 0;
  std::thread thread;
  mutable std::mutex mutex;
  std::vector<FakeRequest> requests;
  std::size_t connections = 0;
  bool stopped = false;
};

namespace {

// Holds a long-poll on this connection's coroutine: a timer until the
// deadline, cancelled by notify() (posted here, so the server thread never
// blocks and the frame never races the notifier).
asio::awaitable<FakeResponse> await_long_poll(std::shared_ptr<FakeLongPoll> lp) {
  auto ex = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(ex);
  std::weak_ptr<asio::steady_timer> weak = timer;
  lp->set_waker([ex, weak] {
    asio::post(ex, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  struct Unhook {
    FakeLongPoll* lp;
    ~Unhook() { lp->set_waker({}); }
  } unhook{lp.get()};
  for (;;) {
    const bool passed = std::chrono::steady_clock::now() >= lp->deadline();
    if (auto r = lp->poll(passed)) co_return std::move(*r);
    if (passed) co_return FakeResponse{500, "text/plain", {}, "long poll gave no answer at its deadline"};
    timer->expires_at(lp->deadline());
    co_await timer->async_wait(use_tuple);
  }
}

// One WebSocket connection (FakeWebSocket). Everything runs on the server's
// single thread; the public calls post there, and one writer coroutine sends
// queued frames in order (Beast allows one write at a time, pings and closes
// included).
template <class Stream>
class WsSession final : public FakeWebSocket, public std::enable_shared_from_this<WsSession<Stream>> {
public:
  WsSession(FakeHttpServer::Impl* impl, Stream&& stream) : impl_(impl), ws_(std::move(stream)), wake_(impl->io) {}

  void send(std::string text) override { enqueue(Kind::text, std::move(text)); }
  void ping() override { enqueue(Kind::ping, {}); }
  void close() override { enqueue(Kind::close, {}); }
  void drop() override {
    asio::post(impl_->io, [self = this->shared_from_this()] {
      boost::system::error_code ignored;
      auto& sock = beast::get_lowest_layer(self->ws_).socket();
      sock.shutdown(tcp::socket::shutdown_both, ignored);
      sock.close(ignored);
    });
  }
  std::size_t pongs() const override { return pongs_.load(); }

  asio::awaitable<void> run(bhttp::request<bhttp::string_body> req, FakeRequest rec) {
    auto self = this->shared_from_this();
    const auto& handler = *impl_->ws;
    // The HTTP read deadline must not apply to a WebSocket: Beast's own
    // timeouts take over (idle pings, handshake limit).
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds{30};
    t.idle_timeout = handler.idle_timeout;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(bhttp::field::server, "relance-fake"); }));
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs_;
    });
    auto [ec] = co_await ws_.async_accept(req, use_tuple);
    if (ec) co_return;
    if (handler.on_open) handler.on_open(self, rec);
    asio::co_spawn(impl_->io, write_loop(), asio::detached);
    beast::flat_buffer buffer;
    for (;;) {
      auto [read_ec, n] = co_await ws_.async_read(buffer, use_tuple);
      (void)n;
      if (read_ec) break;
      if (ws_.got_text() && handler.on_message) handler.on_message(self, beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
    }
    closed_ = true;
    wake_.cancel();
    if (handler.on_close) handler.on_close(self);
  }

private:
  enum class Kind { text, ping, close };

  void enqueue(Kind kind, std::string text) {
    asio::post(impl_->io, [self = this->shared_from_this(), kind, t = std::move(text)]() mutable {
      self->queue_.emplace_back(kind, std::move(t));
      self->wake_.cancel();
    });
  }

  asio::awaitable<void> write_loop() {
    auto self = this->shared_from_this();
    while (!closed_) {
      if (queue_.empty()) {
        wake_.expires_at(asio::steady_timer::time_point::max());
        co_await wake_.async_wait(use_tuple);
        continue;
      }
      auto [kind, text] = std::move(queue_.front());
      queue_.pop_front();
      boost::system::error_code ec;
      if (kind == Kind::text) {
        ws_.text(true);
        std::tie(ec, std::ignore) = co_await ws_.async_write(asio::buffer(text), use_tuple);
      } else if (kind == Kind::ping) {
        std::tie(ec) = co_await ws_.async_ping({}, use_tuple);
      } else {
        std::tie(ec) = co_await ws_.async_close(websocket::close_code::normal, use_tuple);
        break;
      }
      if (ec) break;
    }
  }

  FakeHttpServer::Impl* impl_;
  websocket::stream<Stream> ws_;
  asio::steady_timer wake_;
  std::deque<std::pair<Kind, std::string>> queue_;
  std::atomic<std::size_t> pongs_{0};
  bool closed_ = false;
};

// True when the connection became a WebSocket session, which then owned
// (and has moved from) `stream`: the caller must not touch it any more.
template <class Stream>
asio::awaitable<bool> serve_requests(FakeHttpServer::Impl* impl, Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    // A test never waits this long; it only frees a connection left open.
    lowest.expires_after(std::chrono::seconds{30});
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    (void)n;
    if (ec) break;
    auto req = parser.release();

    FakeRequest rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    auto q = rec.target.find('?');
    rec.path = rec.target.substr(0, q);
    rec.query = q == std::string::npos ? std::string{} : rec.target.substr(q + 1);
    for (const auto& f : req) rec.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    rec.body = req.body();
    {
      std::lock_guard lock(impl->mutex);
      impl->requests.push_back(rec);
    }
    FakeResponse out;
    if (impl->ws && websocket::is_upgrade(req)) {
      auto refused = impl->ws->on_upgrade ? impl->ws->on_upgrade(rec) : std::nullopt;
      if (!refused) {
        // The connection becomes the session's: it owns the stream from here.
        auto session = std::make_shared<WsSession<Stream>>(impl, std::move(stream));
        co_await session->run(std::move(req), std::move(rec));
        co_return true;
      }
      out = std::move(*refused);
    } else {
      out = impl->handler(rec);
    }
    if (out.long_poll) out = co_await await_long_poll(out.long_poll);

    if (out.drop) break;
    if (out.hang) {
      // Hold the connection without answering until the server stops.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::hours{1});
      co_await t.async_wait(use_tuple);
      break;
    }
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status), req.version()};
    res.set(bhttp::field::server, "relance-fake");
    if (!out.content_type.empty()) res.set(bhttp::field::content_type, out.content_type);
    for (const auto& [name, value] : out.headers) res.set(name, value);
    res.body() = std::move(out.body);
    res.keep_alive(req.keep_alive() && !out.close);
    res.prepare_payload();
    lowest.expires_after(std::chrono::seconds{30});
    auto [wec, w] = co_await bhttp::async_write(stream, res, use_tuple);
    (void)w;
    if (wec || !res.keep_alive()) break;
  }
  co_return false;
}

asio::awaitable<void> serve_connection(FakeHttpServer::Impl* impl, tcp::socket socket) {
  beast::tcp_stream plain(std::move(socket));
  boost::system::error_code ignored;
  if (!impl->tls) {
    if (co_await serve_requests(impl, plain)) co_return;
    plain.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return;
  }
  beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *impl->tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds{30});
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (!ec && co_await serve_requests(impl, stream)) co_return;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
}

asio::awaitable<void> accept_loop(FakeHttpServer::Impl* impl) {
  for (;;) {
    auto [ec, socket] = co_await impl->acceptor.async_accept(use_tuple);
    if (ec) co_return;
    {
      std::lock_guard lock(impl->mutex);
      ++impl->connections;
    }
    asio::co_spawn(impl->io, serve_connection(impl, std::move(socket)), asio::detached);
  }
}

}  // namespace

// Coroutines hold a plain Impl*: the io_context lives in Impl, is stopped and
// its thread joined before Impl goes, and destroying it destroys their frames.
FakeHttpServer::FakeHttpServer(Handler handler, std::optional<TestCertificate> tls)
    : impl_(std::make_unique<Impl>(std::move(handler))) {
  if (tls) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(tls->cert_pem));
    impl_->tls->use_private_key(asio::buffer(tls->key_pem), asio::ssl::context::pem);
  }
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  impl_->port = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, accept_loop(impl_.get()), asio::detached);
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

FakeHttpServer::~FakeHttpServer() { stop(); }

void FakeHttpServer::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Abandons every coroutine (hanging ones included); their frames and
  // sockets go when the io_context does.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  // Refuse new connections now, like a server that went away (otherwise the
  // kernel keeps accepting into the backlog and clients wait for nothing).
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

void FakeLongPoll::notify() {
  std::lock_guard lock(mutex_);
  if (waker_) waker_();
}

std::optional<FakeResponse> FakeLongPoll::poll(bool deadline_passed) const { return poll_(deadline_passed); }

void FakeLongPoll::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mutex_);
  waker_ = std::move(waker);
}

std::uint16_t FakeHttpServer::port() const { return impl_->port; }

std::string FakeHttpServer::url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}

std::vector<FakeRequest> FakeHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t FakeHttpServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

void FakeHttpServer::set_websocket_handler(FakeWebSocketHandler handler) {
  impl_->ws = std::move(handler);
}

boost::asio::any_io_executor FakeHttpServer::executor() { return impl_->io.get_executor(); }

std::size_t FakeHttpServer::connection_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->connections;
}

TestCertificate make_test_certificate(const std::string& subject_alt_names) {
  auto fail = [](const char* what) { throw std::runtime_error(std::string("make_test_certificate: ") + what); };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                                                          EVP_PKEY_free);
  if (!key) fail("key generation");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("relance test"), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, subject_alt_names.c_str());
  if (!san) fail("subjectAltName");
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("signing");

  auto to_pem = [&](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!write(bio.get())) fail("PEM encoding");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, std::size_t(len));
  };
  TestCertificate out;
  out.cert_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  out.key_pem = to_pem([&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); });
  return out;
}

namespace detail {

void run_io_until(asio::io_context& io, const bool& done, std::chrono::milliseconds deadline) {
  relance::test::run_io_until(io, [&done] { return done; }, deadline);
}

}  // namespace detail

bool run_io_until(asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (io.stopped()) io.restart();
    // Bounded slices: `cond` may also change on another thread (a fake
    // server counting requests) while nothing is ready here.
    if (io.run_one_for(std::chrono::milliseconds{20}) == 0) std::this_thread::yield();
  }
  return true;
}

}  // namespace relance::test
