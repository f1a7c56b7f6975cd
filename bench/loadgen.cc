// hotrod_loadgen: a small closed-loop HTTP/1.1 keep-alive load generator for hotrod's benchmarks.
//
//   loadgen --url http://127.0.0.1:PORT/path [--method GET|POST] [--auth uuid:key] [--body JSON]
//           --connections N (--duration-s S | --requests R) [--warmup-s W] [--threads T]
//           [--timeout-s X] [--max-time-s X] [--samples-out FILE] [--json]
//   loadgen --merge FILE [--merge FILE...] [--json]
//
// Closed loop: each connection sends its next request only when the previous reply is complete,
// so the offered load adapts to the server and latency is not inflated by a queue we built
// ourselves. Every latency is kept (steady_clock, microseconds): percentiles are exact, not
// estimated from buckets, which matters at p99.9 with a few thousand samples.
//
// Why not only wrk: wrk reports latency from a sampled histogram and has no "exactly R requests"
// mode; the benchmarks want exact percentiles of a fixed window and raw samples to merge across
// alternating rounds (--samples-out, then --merge). wrk stays as a cross-check of throughput.
//
// Bounded by construction: loopback targets only, at most 1024 connections, every run ends by a
// request count or a duration (and a hard wall-clock cap), every request has a timeout.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxConnections = 1024;
constexpr int kMaxThreads = 64;
constexpr double kMaxSeconds = 3600;
constexpr uint64_t kMaxRequests = 100'000'000;
constexpr std::string_view kSamplesMagic = "hotrod-loadgen-samples-v1";

struct Options {
  std::string url;
  http::verb method = http::verb::get;
  std::string auth;  // uuid:key, sent as HTTP Basic
  std::optional<std::string> body;
  int connections = 1;
  double duration_s = 0;
  uint64_t requests = 0;
  double warmup_s = 0;
  int threads = 1;
  double timeout_s = 30;
  double max_time_s = 600;  // wall-clock cap of a --requests run
  std::string samples_out;
  std::vector<std::string> merge;
  bool json = false;
};

[[noreturn]] void Usage(const std::string& error) {
  std::fprintf(
      stderr,
      "loadgen: %s\n"
      "usage: loadgen --url http://127.0.0.1:PORT/path [--method GET|POST] [--auth uuid:key]\n"
      "               [--body JSON] --connections N (--duration-s S | --requests R)\n"
      "               [--warmup-s W] [--threads T] [--timeout-s X] [--max-time-s X]\n"
      "               [--samples-out FILE] [--json]\n"
      "       loadgen --merge FILE [--merge FILE...] [--json]\n",
      error.c_str());
  std::exit(2);
}

double ParseNumber(std::string_view flag, const std::string& text, double min, double max) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max)
    Usage(std::string(flag) + " wants a number in [" + std::to_string(min) + ", " +
          std::to_string(max) + "], got '" + text + "'");
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) Usage(std::string("missing value for ") + std::string(flag));
    const std::string value = argv[++i];
    if (flag == "--url") {
      o.url = value;
    } else if (flag == "--method") {
      if (value == "GET")
        o.method = http::verb::get;
      else if (value == "POST")
        o.method = http::verb::post;
      else
        Usage("--method must be GET or POST");
    } else if (flag == "--auth") {
      o.auth = value;
    } else if (flag == "--body") {
      o.body = value;
    } else if (flag == "--connections") {
      o.connections = static_cast<int>(ParseNumber(flag, value, 1, kMaxConnections));
    } else if (flag == "--duration-s") {
      o.duration_s = ParseNumber(flag, value, 0.001, kMaxSeconds);
    } else if (flag == "--requests") {
      o.requests =
          static_cast<uint64_t>(ParseNumber(flag, value, 1, static_cast<double>(kMaxRequests)));
    } else if (flag == "--warmup-s") {
      o.warmup_s = ParseNumber(flag, value, 0, kMaxSeconds);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(ParseNumber(flag, value, 1, kMaxThreads));
    } else if (flag == "--timeout-s") {
      o.timeout_s = ParseNumber(flag, value, 0.001, kMaxSeconds);
    } else if (flag == "--max-time-s") {
      o.max_time_s = ParseNumber(flag, value, 0.001, kMaxSeconds);
    } else if (flag == "--samples-out") {
      o.samples_out = value;
    } else if (flag == "--merge") {
      o.merge.push_back(value);
    } else {
      Usage("unknown option " + std::string(flag));
    }
  }
  if (!o.merge.empty()) return o;
  if (o.url.empty()) Usage("--url is required");
  if ((o.duration_s > 0) == (o.requests > 0))
    Usage("give exactly one of --duration-s and --requests");
  return o;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

struct Target {
  tcp::endpoint endpoint;
  std::string host;    // Host header
  std::string target;  // origin-form path and query
};

// Only http:// to a loopback address: this tool must never be pointed at someone else's server.
Target ResolveUrl(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) Usage("--url '" + url + "' is not a URL");
  if (parsed->scheme() != "http") Usage("--url must be http://");
  std::string host = parsed->host_address();
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec || !address.is_loopback())
    Usage("--url must name a loopback address (127.0.0.0/8, ::1 or localhost)");
  if (!parsed->has_port() || parsed->port_number() == 0) Usage("--url needs an explicit port");
  Target t;
  t.endpoint = tcp::endpoint(address, parsed->port_number());
  t.host = std::string(parsed->encoded_host_and_port());
  t.target = std::string(parsed->encoded_resource());
  if (t.target.empty() || t.target[0] != '/') t.target = "/" + t.target;
  return t;
}

// The request is serialised once: every send writes the same bytes, so the generator spends its
// CPU on the wire and the parser, not on rebuilding headers.
std::string SerializeRequest(const Options& o, const Target& t) {
  http::request<http::string_body> req{o.method, t.target, 11};
  req.set(http::field::host, t.host);
  req.set(http::field::user_agent, "hotrod-loadgen");
  if (!o.auth.empty()) req.set(http::field::authorization, "Basic " + Base64(o.auth));
  if (o.body) {
    req.set(http::field::content_type, "application/json");
    req.body() = *o.body;
  }
  req.keep_alive(true);
  req.prepare_payload();
  std::ostringstream out;
  out << req;
  return out.str();
}

// Run-wide schedule, fixed before the first request and read-only afterwards (except the
// request budget, claimed atomically by every connection).
struct Schedule {
  Clock::time_point warmup_end;  // requests sent before this are not recorded
  Clock::time_point stop;        // no request is sent at or after this
  bool by_count = false;
  std::atomic<int64_t> budget{0};       // --requests: measured requests left to send
  std::chrono::microseconds timeout{};  // per exchange (connect, or request and reply)
};

struct ConnStats {
  std::vector<uint32_t> latencies_us;  // of 2xx replies in the measured window
  uint64_t errors = 0;
  Clock::time_point last_done{};
  std::string first_error;
};

// A response parser that keeps only what the statistics need (status, keep-alive, the start of
// the body for error messages). Beast's response_parser<string_body> allocates every header
// field and the body on each reply, which made this generator, not the server, the bottleneck
// at 32 connections: wrk pushed twice the requests/s through the same server.
class ResponseSink final : public http::basic_parser<false> {
 public:
  unsigned status() const { return status_; }
  const std::string& body_head() const { return body_head_; }

 private:
  static constexpr size_t kKeep = 200;
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                       boost::system::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, boost::system::error_code&) override {
    status_ = static_cast<unsigned>(code);
  }
  void on_field_impl(http::field, beast::string_view, beast::string_view,
                     boost::system::error_code&) override {}
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::system::error_code&) override {}
  size_t on_body_impl(beast::string_view body, boost::system::error_code&) override {
    Keep(body);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view,
                            boost::system::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                            boost::system::error_code&) override {
    Keep(body);
    return body.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}
  void Keep(beast::string_view body) {
    if (status_ >= 200 && status_ < 300) return;  // only error bodies are ever shown
    if (body_head_.size() < kKeep) body_head_.append(body.substr(0, kKeep - body_head_.size()));
  }

  unsigned status_ = 0;
  std::string body_head_;
};

struct Conn {
  tcp::endpoint endpoint;
  const std::string* request = nullptr;
  Schedule* schedule = nullptr;
  std::optional<tcp::socket> socket;
  // Set while a connect or an exchange is pending; the watchdog closes the socket of an
  // exchange older than the timeout. One watchdog per thread instead of a timer per request:
  // arming and cancelling a timer around every request cost more than parsing the reply.
  bool busy = false;
  bool finished = false;
  Clock::time_point since{};
  ConnStats stats;
};

void NoteError(ConnStats& s, bool measured, std::string what) {
  if (measured) ++s.errors;
  if (s.first_error.empty()) s.first_error = std::move(what);
}

// One connection's closed loop: connect, then send/receive until the schedule says stop.
// Transport errors reconnect after a short pause so a dead server costs no busy loop.
asio::awaitable<void> RunConnection(Conn& c) {
  auto executor = co_await asio::this_coro::executor;
  Schedule& sched = *c.schedule;
  beast::flat_buffer buffer;
  for (;;) {
    const auto sent = Clock::now();
    if (sent >= sched.stop) break;
    const bool measured = sent >= sched.warmup_end;
    if (measured && sched.by_count && sched.budget.fetch_sub(1, std::memory_order_relaxed) <= 0)
      break;

    c.busy = true;
    c.since = sent;
    boost::system::error_code ec;
    if (!c.socket) {
      c.socket.emplace(executor);
      std::tie(ec) = co_await c.socket->async_connect(c.endpoint, kTok);
      if (!ec) c.socket->set_option(tcp::no_delay(true), ec);
      buffer.clear();
    }
    ResponseSink parser;
    parser.body_limit(64 << 20);
    if (!ec)
      std::tie(ec, std::ignore) =
          co_await asio::async_write(*c.socket, asio::buffer(*c.request), kTok);
    if (!ec) std::tie(ec, std::ignore) = co_await http::async_read(*c.socket, buffer, parser, kTok);
    const auto done = Clock::now();
    c.busy = false;
    if (ec) {
      if (measured) c.stats.last_done = done;
      const bool timed_out = done - sent >= sched.timeout;
      NoteError(c.stats, measured,
                timed_out ? "transport: timed out" : "transport: " + ec.message());
      c.socket.reset();
      asio::steady_timer pause(executor, std::chrono::milliseconds(10));
      co_await pause.async_wait(kTok);
      continue;
    }
    const unsigned status = parser.status();
    if (measured) {
      c.stats.last_done = done;
      if (status >= 200 && status < 300) {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - sent).count();
        c.stats.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
      }
    }
    if (status < 200 || status >= 300)
      NoteError(c.stats, measured, "HTTP " + std::to_string(status) + ": " + parser.body_head());
    if (!parser.keep_alive()) c.socket.reset();
  }
  if (c.socket) {
    boost::system::error_code ignored;
    c.socket->shutdown(tcp::socket::shutdown_both, ignored);
    c.socket->close(ignored);
  }
  c.finished = true;
}

// Closes the sockets of this thread's connections whose exchange outlived the timeout (the
// pending read then fails and the connection counts an error), until all of them are done.
asio::awaitable<void> Watchdog(std::vector<Conn*> conns, std::chrono::microseconds timeout) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  const auto period =
      std::min<std::chrono::microseconds>(timeout / 4, std::chrono::milliseconds(100));
  for (;;) {
    tick.expires_after(period);
    co_await tick.async_wait(kTok);
    bool all_done = true;
    const auto now = Clock::now();
    for (Conn* c : conns) {
      all_done = all_done && c->finished;
      if (!c->finished && c->busy && now - c->since >= timeout && c->socket) {
        boost::system::error_code ignored;
        c->socket->close(ignored);
      }
    }
    if (all_done) co_return;
  }
}

struct Summary {
  std::vector<uint32_t> latencies_us;  // sorted
  uint64_t errors = 0;
  double elapsed_s = 0;
};

// Nearest-rank percentile of sorted samples.
uint32_t Percentile(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// The figures of a run. Numbers are formatted here rather than by Boost.JSON, whose doubles come
// out in exponent notation (5.642E3) that is valid but unreadable in a terminal or a log.
struct Figures {
  uint64_t count = 0, errors = 0;
  double elapsed_s = 0, rps = 0, mean_us = 0;
  uint32_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

Figures Compute(const Summary& s) {
  const auto& l = s.latencies_us;
  double sum = 0;
  for (uint32_t v : l) sum += v;
  Figures f;
  f.count = l.size();
  f.errors = s.errors;
  f.elapsed_s = s.elapsed_s;
  f.rps = s.elapsed_s > 0 ? static_cast<double>(l.size()) / s.elapsed_s : 0;
  f.mean_us = l.empty() ? 0 : sum / static_cast<double>(l.size());
  f.p50 = Percentile(l, 50);
  f.p90 = Percentile(l, 90);
  f.p99 = Percentile(l, 99);
  f.p999 = Percentile(l, 99.9);
  f.max = l.empty() ? 0 : l.back();
  return f;
}

void Print(const Figures& f, bool as_json, int connections, const std::string& label) {
  if (as_json) {
    std::printf(
        "{\"count\":%llu,\"errors\":%llu,\"elapsed_s\":%.6f,\"rps\":%.1f,\"mean_us\":%.1f,"
        "\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u,\"connections\":%d}"
        "\n",
        static_cast<unsigned long long>(f.count), static_cast<unsigned long long>(f.errors),
        f.elapsed_s, f.rps, f.mean_us, f.p50, f.p90, f.p99, f.p999, f.max, connections);
    return;
  }
  std::printf("%s\n", label.c_str());
  std::printf("  %llu ok, %llu errors in %.3f s: %.1f requests/s\n",
              static_cast<unsigned long long>(f.count), static_cast<unsigned long long>(f.errors),
              f.elapsed_s, f.rps);
  std::printf("  latency us: p50 %u  p90 %u  p99 %u  p99.9 %u  max %u  mean %.1f\n", f.p50, f.p90,
              f.p99, f.p999, f.max, f.mean_us);
}

// Samples file: a header line "<magic> <errors> <elapsed_us>", then one latency (us) per line.
void WriteSamples(const std::string& file, const Summary& s) {
  std::ofstream out(file, std::ios::trunc);
  out << kSamplesMagic << ' ' << s.errors << ' ' << static_cast<uint64_t>(s.elapsed_s * 1e6)
      << '\n';
  std::string text;
  for (uint32_t v : s.latencies_us) (text += std::to_string(v)) += '\n';
  out << text;
  if (!out) Usage("cannot write samples to " + file);
}

// Merges rounds measured separately: counts, errors and elapsed time add up; percentiles are
// over the union of all samples.
Summary Merge(const std::vector<std::string>& files) {
  Summary total;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::string magic;
    uint64_t errors = 0, elapsed_us = 0;
    if (!(in >> magic >> errors >> elapsed_us) || magic != kSamplesMagic)
      Usage("not a samples file: " + file);
    total.errors += errors;
    total.elapsed_s += static_cast<double>(elapsed_us) / 1e6;
    uint32_t v;
    while (in >> v) total.latencies_us.push_back(v);
  }
  std::sort(total.latencies_us.begin(), total.latencies_us.end());
  return total;
}

Summary RunLoad(const Options& o) {
  const Target target = ResolveUrl(o.url);
  const std::string request = SerializeRequest(o, target);
  const auto timeout = std::chrono::microseconds(static_cast<int64_t>(o.timeout_s * 1e6));

  const int threads = std::min(o.threads, o.connections);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));

  Schedule sched;
  const auto start = Clock::now();
  sched.warmup_end = start + std::chrono::microseconds(static_cast<int64_t>(o.warmup_s * 1e6));
  const double measure_s = o.duration_s > 0 ? o.duration_s : o.max_time_s;
  sched.stop = sched.warmup_end + std::chrono::microseconds(static_cast<int64_t>(measure_s * 1e6));
  sched.by_count = o.requests > 0;
  sched.budget = static_cast<int64_t>(o.requests);

  sched.timeout = timeout;

  std::vector<Conn> conns(static_cast<size_t>(o.connections));
  std::vector<std::vector<Conn*>> per_thread(contexts.size());
  auto crash_on_exception = [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);  // a bug in this tool: crash loudly
  };
  for (size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.endpoint = target.endpoint;
    c.request = &request;
    c.schedule = &sched;
    if (o.duration_s > 0) c.stats.latencies_us.reserve(1 << 14);
    per_thread[i % contexts.size()].push_back(&c);
    asio::co_spawn(*contexts[i % contexts.size()], RunConnection(c), crash_on_exception);
  }
  for (size_t t = 0; t < contexts.size(); ++t)
    asio::co_spawn(*contexts[t], Watchdog(per_thread[t], timeout), crash_on_exception);
  std::vector<std::thread> workers;
  for (size_t i = 1; i < contexts.size(); ++i)
    workers.emplace_back([&ctx = *contexts[i]] { ctx.run(); });
  contexts[0]->run();
  for (auto& w : workers) w.join();

  Summary s;
  Clock::time_point last = sched.warmup_end;
  std::string first_error;
  for (auto& c : conns) {
    s.latencies_us.insert(s.latencies_us.end(), c.stats.latencies_us.begin(),
                          c.stats.latencies_us.end());
    s.errors += c.stats.errors;
    last = std::max(last, c.stats.last_done);
    if (first_error.empty()) first_error = c.stats.first_error;
  }
  // The window ends when the last measured reply arrived (duration runs overrun by at most one
  // request per connection, which the rate then accounts for).
  s.elapsed_s = std::chrono::duration<double>(last - sched.warmup_end).count();
  std::sort(s.latencies_us.begin(), s.latencies_us.end());
  if (!first_error.empty()) std::fprintf(stderr, "loadgen: first error: %s\n", first_error.c_str());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  if (!o.merge.empty()) {
    Print(Compute(Merge(o.merge)), o.json, 0, "merged " + std::to_string(o.merge.size()) + " runs");
    return 0;
  }
  const Summary s = RunLoad(o);
  if (!o.samples_out.empty()) WriteSamples(o.samples_out, s);
  Print(Compute(s), o.json, o.connections,
        std::string(o.method == http::verb::get ? "GET " : "POST ") + o.url +
            "  connections=" + std::to_string(o.connections) +
            " threads=" + std::to_string(std::min(o.threads, o.connections)));
  return s.latencies_us.empty() ? 1 : 0;
}
