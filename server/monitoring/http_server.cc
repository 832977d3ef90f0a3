#include "server/monitoring/http_server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace equifl::server::monitoring {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr char kCookieName[] = "equifl_token";
// The page's scripts and styles come from this server only; nothing may frame it.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// What every session of one server shares.
struct Shared {
  HttpHandler handler;
  std::string token;
  bool open = false;  // Loopback without a token: no credentials asked.
  bool tls = false;
  std::chrono::seconds idle_timeout{30};
  int max_connections = 64;
  std::atomic<int> connections{0};
};

bool SameSecret(absl::string_view given, absl::string_view token) {
  return !token.empty() && given.size() == token.size() &&
         CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecoded(absl::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high >= 0 && low >= 0) {
        decoded.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    decoded.push_back(text[i] == '+' ? ' ' : text[i]);
  }
  return decoded;
}

// The value of `name` in a query string ("a=1&token=x"); nullopt when absent.
std::optional<std::string> QueryValue(absl::string_view query, absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (kv.first == name) return PercentDecoded(kv.second);
  }
  return std::nullopt;
}

// The value of cookie `name` in a Cookie header; empty when absent.
std::string CookieValue(absl::string_view header, absl::string_view name) {
  for (absl::string_view cookie : absl::StrSplit(header, ';')) {
    cookie = absl::StripAsciiWhitespace(cookie);
    if (absl::ConsumePrefix(&cookie, name) && absl::ConsumePrefix(&cookie, "=")) {
      return std::string(cookie);
    }
  }
  return "";
}

template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <typename... StreamArguments>
  Session(std::shared_ptr<Shared> shared, StreamArguments&&... arguments)
      : shared_(std::move(shared)), stream_(std::forward<StreamArguments>(arguments)...) {}
  ~Session() { --shared_->connections; }

  void Begin() {
    beast::get_lowest_layer(stream_).expires_after(shared_->idle_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code error) {
                                if (!error) self->OnHandshake();
                              });
    } else {
      Read();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using Request = http::request<http::string_body>;

  void OnHandshake() {
    if constexpr (kTls) {
      SSL* ssl = stream_.native_handle();
      X509* certificate = SSL_get1_peer_certificate(ssl);
      client_certificate_ = certificate != nullptr && SSL_get_verify_result(ssl) == X509_V_OK;
      X509_free(certificate);
    }
    Read();
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    parser_->body_limit(4 * 1024);
    beast::get_lowest_layer(stream_).expires_after(shared_->idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code error, size_t) {
                       self->OnRead(error);
                     });
  }

  void OnRead(beast::error_code error) {
    if (error) {
      // A request over the limits gets an answer; a closed or idle one does not.
      if (error == http::error::header_limit || error == http::error::body_limit) {
        Respond(
            Plain(error == http::error::header_limit ? http::status::request_header_fields_too_large
                                                     : http::status::payload_too_large,
                  "request too large\n"),
            /*keep_alive=*/false);
        return;
      }
      Close();
      return;
    }
    const Request& request = parser_->get();
    Respond(Answer(request), request.keep_alive());
  }

  http::response<http::string_body> Plain(http::status status, std::string body) {
    http::response<http::string_body> response{status, 11};
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.body() = std::move(body);
    return response;
  }

  http::response<http::string_body> Answer(const Request& request) {
    const absl::string_view target(request.target().data(), request.target().size());
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(target, absl::MaxSplits('?', 1));
    if (request.method() != http::verb::get) {
      http::response<http::string_body> response =
          Plain(http::status::method_not_allowed, "only GET is served\n");
      response.set(http::field::allow, "GET");
      return response;
    }
    std::string set_cookie;
    if (!Authorized(request, parts.second, set_cookie)) {
      http::response<http::string_body> response =
          Plain(http::status::unauthorized,
                "this address needs the access token (Authorization: Bearer TOKEN, or ?token=TOKEN)"
                " or a client certificate of the run's CA\n");
      response.set(http::field::www_authenticate, "Bearer");
      return response;
    }
    HttpResponse answer;
    try {
      answer = shared_->handler(HttpRequest{std::string(parts.first)});
    } catch (const std::exception& exception) {
      answer = {500, "text/plain; charset=utf-8", "internal error\n"};
    }
    http::response<http::string_body> response{static_cast<http::status>(answer.status), 11};
    response.set(http::field::content_type, answer.content_type);
    response.body() = std::move(answer.body);
    if (!set_cookie.empty()) response.set(http::field::set_cookie, set_cookie);
    return response;
  }

  bool Authorized(const Request& request, absl::string_view query, std::string& set_cookie) {
    if (shared_->open || client_certificate_) return true;
    const absl::string_view authorization(request[http::field::authorization].data(),
                                          request[http::field::authorization].size());
    absl::string_view bearer = authorization;
    if (absl::ConsumePrefix(&bearer, "Bearer ") && SameSecret(bearer, shared_->token)) return true;
    const absl::string_view cookies(request[http::field::cookie].data(),
                                    request[http::field::cookie].size());
    if (SameSecret(CookieValue(cookies, kCookieName), shared_->token)) return true;
    const std::optional<std::string> given = QueryValue(query, "token");
    if (given && SameSecret(*given, shared_->token)) {
      // The page's own requests (scripts, styles, the API) then carry the cookie.
      set_cookie =
          absl::StrCat(kCookieName, "=", shared_->token, "; Path=/; HttpOnly; SameSite=Strict",
                       shared_->tls ? "; Secure" : "");
      return true;
    }
    return false;
  }

  void Respond(http::response<http::string_body> response, bool keep_alive) {
    response.set(http::field::server, "equifl");
    response.set("Content-Security-Policy", kContentSecurityPolicy);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("X-Frame-Options", "DENY");
    response.set("Referrer-Policy", "no-referrer");
    response.set(http::field::cache_control, "no-store");
    response.keep_alive(keep_alive);
    response.prepare_payload();
    response_ = std::move(response);
    http::async_write(
        stream_, response_,
        [self = this->shared_from_this(), keep_alive](beast::error_code error, size_t) {
          if (!error && keep_alive) {
            self->Read();
          } else {
            self->Close();
          }
        });
  }

  void Close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  std::shared_ptr<Shared> shared_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool client_certificate_ = false;
};

// host and port of "host:port" or "[v6]:port".
absl::StatusOr<std::pair<std::string, uint16_t>> SplitAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("the HTTP address '", address.substr(0, 200),
                     "' is not host:port (e.g. 127.0.0.1:8080, or port 0 for a free one)"));
  }
  absl::string_view host = address.substr(0, colon);
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

}  // namespace

bool IsLoopbackHost(absl::string_view host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost";
}

struct HttpServer::Impl {
  asio::io_context io{1};
  std::optional<asio::ssl::context> tls;
  tcp::acceptor acceptor{io};
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::string host;
  int port = 0;
  bool client_ca = false;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error) {
        if (error != asio::error::operation_aborted) Accept();
        return;
      }
      if (shared->connections.load() >= shared->max_connections) {
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        ++shared->connections;
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared, std::move(socket),
                                                                          *tls)
              ->Begin();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(shared, std::move(socket))->Begin();
        }
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  // Pending connections are destroyed with the io_context, after the thread ends.
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  absl::StatusOr<std::pair<std::string, uint16_t>> split = SplitAddress(options.address);
  if (!split.ok()) return split.status();
  auto impl = std::make_unique<Impl>();
  impl->host = split->first;
  Shared& shared = *impl->shared;
  shared.handler = std::move(handler);
  shared.token = options.token;
  shared.tls = !options.certificate_file.empty();
  shared.idle_timeout = options.idle_timeout;
  shared.max_connections = options.max_connections;
  impl->client_ca = shared.tls && !options.client_ca_file.empty();
  const bool loopback = IsLoopbackHost(impl->host);
  shared.open = loopback && options.token.empty();
  if (!loopback && options.token.empty() && !impl->client_ca) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the dashboard would be open to anyone on '", impl->host,
        "': give an access token (--http-token-file FILE) or certificates (--certs), or bind "
        "it to 127.0.0.1"));
  }
  try {
    if (shared.tls) {
      impl->tls.emplace(asio::ssl::context::tls_server);
      impl->tls->set_options(asio::ssl::context::default_workarounds |
                             asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                             asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      impl->tls->use_certificate_chain_file(options.certificate_file);
      impl->tls->use_private_key_file(options.private_key_file, asio::ssl::context::pem);
      if (impl->client_ca) {
        impl->tls->load_verify_file(options.client_ca_file);
        // Asked for, not required: a request may carry the token instead.
        impl->tls->set_verify_mode(asio::ssl::verify_peer);
      }
    }
    tcp::endpoint endpoint;
    beast::error_code error;
    const asio::ip::address literal = asio::ip::make_address(
        impl->host == "localhost" ? std::string("127.0.0.1") : impl->host, error);
    if (!error) {
      endpoint = tcp::endpoint(literal, split->second);
    } else {
      tcp::resolver resolver(impl->io);
      tcp::resolver::results_type found =
          resolver.resolve(impl->host, std::to_string(split->second), error);
      if (error || found.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot resolve the HTTP host '", impl->host.substr(0, 200), "'"));
      }
      endpoint = found.begin()->endpoint();
    }
    impl->acceptor.open(endpoint.protocol());
    impl->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl->acceptor.bind(endpoint);
    impl->acceptor.listen(asio::socket_base::max_listen_connections);
    impl->port = impl->acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& failure) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot serve HTTP on '", options.address.substr(0, 200), "': ", failure.what()));
  }
  impl->Accept();
  Impl* running = impl.get();
  impl->thread = std::thread([running] {
    for (;;) {
      try {
        running->io.run();
        return;
      } catch (const std::exception&) {
        // A failed connection must not end the server; run on.
      }
    }
  });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port; }

std::string HttpServer::url() const {
  const bool v6 = impl_->host.find(':') != std::string::npos;
  return absl::StrCat(impl_->shared->tls ? "https" : "http", "://", v6 ? "[" : "", impl_->host,
                      v6 ? "]" : "", ":", impl_->port, "/");
}

std::string HttpServer::access() const {
  const Shared& shared = *impl_->shared;
  if (shared.open) return "loopback only, no token";
  std::string access = shared.token.empty() ? "" : "the access token";
  if (impl_->client_ca) {
    absl::StrAppend(&access, access.empty() ? "" : " or ", "a client certificate of the run's CA");
  }
  return absl::StrCat("requests need ", access);
}

}  // namespace equifl::server::monitoring
