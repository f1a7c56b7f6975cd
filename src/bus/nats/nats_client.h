// A small RAII layer over the NATS C client (cnats 3.4, Debian libnats-dev): a connection with
// a list of servers and reconnect, core publish/subscribe, and the few JetStream calls the bus
// uses (streams, durable pull consumers, publish with a message id, manual acks).
//
// Threading contract (the one thing to know here):
//  - cnats runs its own threads (reading the socket, reconnecting, dispatching messages). Every
//    callback from them is handed to the asio io_context the connection was given (asio::post):
//    a Subscribe() handler runs on the event-loop thread, never on a cnats thread.
//  - Publish() never blocks on the network (cnats buffers, also while reconnecting) and may be
//    called from any thread.
//  - Calls that wait for the server (EnsureStream, EnsureConsumer, PublishDurable, Fetch,
//    NatsJsMessage::AckSync) block up to `api_timeout`: call them at setup, or from the event
//    loop through OffLoop(), which runs them on the connection's own worker threads and resumes
//    the caller on the event loop.
//  - A NatsSubscription / NatsPullSubscription must be destroyed before its connection, on the
//    event-loop thread; after its destructor no handler of it runs.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/off_loop.h"
#include "common/result.h"

// cnats types, kept out of the consumers' compile lines.
struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;

namespace hotrod {

namespace asio = boost::asio;

struct NatsOptions {
  std::vector<std::string> servers;  // "nats://host:port" each; at least one
  std::string name = "hotrod";       // the connection's name in the server's monitoring
  // After a connection is lost: retry every `reconnect_wait`, forever (-1) or this many times.
  std::chrono::milliseconds reconnect_wait{250};
  int max_reconnect = -1;
  // JetStream API calls, publish acknowledgements and synchronous acks wait this long.
  std::chrono::milliseconds api_timeout{5000};
};

// "nats://h1:4222,h2:4222" (the --bus form) -> {"nats://h1:4222", "nats://h2:4222"}.
Result<std::vector<std::string>> ParseNatsServers(std::string_view url);

// A core NATS message, copied out of cnats (its memory is cnats's).
struct NatsMessage {
  std::string subject;
  std::string reply;  // empty when the sender expects no answer
  std::string data;
  bool no_responders = false;  // the server's answer to a request nobody subscribed to
};

// A stream that keeps what is published on `subjects` until it is acknowledged.
struct NatsStreamConfig {
  std::string name;
  std::vector<std::string> subjects;
  bool work_queue = true;  // a message is deleted once acknowledged (WorkQueue retention)
  int replicas = 1;        // 3 in a 3-node cluster
  // Publishes with a message id seen again within this window are dropped (Nats-Msg-Id).
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(10)};
};

// A durable pull consumer with explicit acks. A message not acknowledged within `ack_wait`
// (nor kept alive with InProgress) is delivered again, to whichever subscriber fetches next.
struct NatsConsumerConfig {
  std::string stream;
  std::string durable;  // no '.'
  std::string filter_subject;
  std::chrono::milliseconds ack_wait{std::chrono::seconds(10)};
  int64_t max_deliver = -1;  // -1: until acknowledged
  int64_t max_ack_pending = 10000;
};

struct NatsPubAck {
  uint64_t sequence = 0;
  bool duplicate = false;  // the stream already had a message with this id
};

// One message fetched from a pull consumer; owns the cnats message. The ack calls are for one
// thread at a time (any thread), and only while the subscription it came from exists.
class NatsJsMessage {
 public:
  explicit NatsJsMessage(__natsMsg* msg) : msg_(msg) {}
  NatsJsMessage(NatsJsMessage&& other) noexcept : msg_(std::exchange(other.msg_, nullptr)) {}
  NatsJsMessage& operator=(NatsJsMessage&&) = delete;
  ~NatsJsMessage();

  std::string_view data() const;
  std::string_view header(const char* key) const;  // empty when absent
  uint64_t num_delivered() const;                  // 1 on the first delivery

  Status AckSync(std::chrono::milliseconds timeout);  // waits for the server
  Status NakWithDelay(std::chrono::milliseconds delay);
  Status InProgress();  // resets the ack timer on the server
  Status Term();        // never deliver again

 private:
  __natsMsg* msg_;
};

class NatsSubscription {
 public:
  NatsSubscription() = default;
  NatsSubscription(NatsSubscription&&) noexcept;
  NatsSubscription& operator=(NatsSubscription&&) noexcept;
  ~NatsSubscription();

  struct State;  // nats_client.cc: what the cnats callback needs

 private:
  friend class NatsConnection;
  __natsSubscription* sub_ = nullptr;
  std::shared_ptr<State> state_;
  void Reset();
};

class NatsPullSubscription {
 public:
  NatsPullSubscription(NatsPullSubscription&&) = delete;
  ~NatsPullSubscription();
  // Up to `batch` messages, waiting at most `timeout` for the first; empty on a timeout.
  // Blocking: for a thread of the caller's own, never the event loop.
  Result<std::vector<NatsJsMessage>> Fetch(int batch, std::chrono::milliseconds timeout);

 private:
  friend class NatsConnection;
  explicit NatsPullSubscription(__natsSubscription* sub) : sub_(sub) {}
  __natsSubscription* sub_;
};

class NatsConnection {
 public:
  using Handler = std::function<void(NatsMessage)>;

  // Connects to one of `options.servers` (fails if none answers now); reconnects by itself later.
  static Result<std::unique_ptr<NatsConnection>> Connect(asio::io_context& io,
                                                         const NatsOptions& options);
  NatsConnection(const NatsConnection&) = delete;
  ~NatsConnection();

  // Core NATS: at most once, to whoever subscribes now. `reply` makes it a request.
  Status Publish(std::string_view subject, std::string_view data, std::string_view reply = {});
  // `handler` runs on the event loop for each message; `queue` non-empty: one member of the
  // queue group gets each message.
  Result<NatsSubscription> Subscribe(const std::string& subject, const std::string& queue,
                                     Handler handler);
  std::string NewInbox() const;  // a unique subject prefix for replies
  // Waits (blocking) until the server has processed everything published so far.
  Status Flush(std::chrono::milliseconds timeout);

  // JetStream. Blocking (see the contract on top).
  Status EnsureStream(const NatsStreamConfig& config);      // add, or update to this config
  Status EnsureConsumer(const NatsConsumerConfig& config);  // add, or update to this config
  Result<NatsPubAck> PublishDurable(const std::string& subject, std::string_view data,
                                    const std::string& msg_id);
  Result<std::unique_ptr<NatsPullSubscription>> PullSubscribe(const NatsConsumerConfig& config);

  // Closes the connection now (what a crashed process looks like to the server): nothing is
  // acknowledged any more, subscriptions stop. The object stays valid until destroyed.
  void Close();

  // Runs blocking `f` on the connection's worker threads; the caller resumes on its own
  // executor (the event loop) with f's result.
  template <class R, class F>
  asio::awaitable<R> OffLoop(F f) {
    return hotrod::OffLoop<R>(worker_.get_executor(), std::move(f));
  }

  asio::io_context& io() { return io_; }

 private:
  NatsConnection(asio::io_context& io, __natsConnection* nc, __jsCtx* js,
                 std::chrono::milliseconds api_timeout);

  asio::io_context& io_;
  __natsConnection* nc_;
  __jsCtx* js_;
  std::chrono::milliseconds api_timeout_;
  asio::thread_pool worker_{2};
};

}  // namespace hotrod
