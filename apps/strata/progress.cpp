#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace strata::cli {
namespace {

constexpr int kMaxBarWidth = 24, kMinBarWidth = 8;
constexpr double kRedrawSeconds = 0.1;
constexpr double kPlainAfterSeconds = 5.0;  // no plain progress lines for epochs faster than this

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  return buf;
}

double seconds_per_batch(const train::BatchProgress& p) { return p.batch > 0 ? p.seconds / p.batch : 0.0; }

std::string epoch_eta(const train::BatchProgress& p) {
  return clock_text(seconds_per_batch(p) * static_cast<double>(p.num_batches - p.batch));
}

// The terminal's width: the window's size, else $COLUMNS, else 80.
int terminal_width(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    const int n = std::atoi(columns);
    if (n > 0) return n;
  }
  return 80;
}

std::string bar_of(int64_t done, int64_t total, int width) {
  const int filled = static_cast<int>(width * done / std::max<int64_t>(total, 1));
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < width) bar += '>';
  bar.resize(static_cast<std::size_t>(width), ' ');
  return "[" + bar + "]";
}

// The progress line of a batch for a terminal of `width` columns: the least useful parts (the
// bar's length, then the bar, img/s, accuracy, the run's ETA, the loss) give way first.
std::string progress_line(const train::BatchProgress& p, const std::string& epoch_eta, const std::string& run_eta,
                          int width) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "epoch %lld/%lld", static_cast<long long>(p.epoch), static_cast<long long>(p.epochs));
  const std::string head = buf;
  std::snprintf(buf, sizeof buf, "%lld/%lld", static_cast<long long>(p.batch), static_cast<long long>(p.num_batches));
  const std::string count = buf;
  char loss[32], acc[32], speed[32];
  std::snprintf(loss, sizeof loss, "  loss %.3f", p.loss);
  std::snprintf(acc, sizeof acc, "  acc %.3f", p.train_acc);
  std::snprintf(speed, sizeof speed, "  %.0f img/s", p.examples_per_sec);
  const int room = width - 1;  // the last column stays empty: some terminals wrap on it
  // Drop the optional parts, least useful first: img/s, accuracy, the run's ETA, the loss.
  for (int dropped = 0;; ++dropped) {
    std::string tail = "  " + count;
    if (dropped < 4) tail += loss;
    if (dropped < 2) tail += acc;
    if (dropped < 1) tail += speed;
    tail += "  ETA " + epoch_eta;
    if (dropped < 3) tail += ", run " + run_eta;
    const int bar_width = std::min(kMaxBarWidth, room - static_cast<int>(head.size() + tail.size()) - 3);
    if (bar_width >= kMinBarWidth) return head + " " + bar_of(p.batch, p.num_batches, bar_width) + tail;
    if (dropped == 4 || static_cast<int>(head.size() + tail.size()) <= room)
      return (head + tail).substr(0, static_cast<std::size_t>(std::max(room, 0)));
  }
}

}  // namespace

EpochProgress::EpochProgress(std::FILE* out)
    : out_(out), tty_(::isatty(::fileno(out)) != 0), width_(tty_ ? terminal_width(out) : 80) {}

void EpochProgress::draw(const std::string& line) {
  std::fprintf(out_, "\r%s\033[K", line.substr(0, static_cast<std::size_t>(std::max(width_ - 1, 0))).c_str());
  std::fflush(out_);
  drawn_ = true;
  last_draw_ = Clock::now();
}

void EpochProgress::setup(const std::string& what) {
  if (tty_) draw(what + " ...");
}

std::string EpochProgress::run_eta(const train::BatchProgress& p) const {
  const double epoch_seconds = seconds_per_batch(p) * static_cast<double>(p.num_batches) + eval_seconds_;
  const double left = seconds_per_batch(p) * static_cast<double>(p.num_batches - p.batch) + eval_seconds_ +
                      epoch_seconds * static_cast<double>(p.epochs - p.epoch);
  return clock_text(left);
}

void EpochProgress::update(const train::BatchProgress& p) {
  if (p.batch == 1) quarters_ = 0;
  if (p.batch == p.num_batches) train_done_ = Clock::now();
  if (!tty_) {
    const int quarter = static_cast<int>(4 * p.batch / p.num_batches);
    if (quarter > quarters_ && quarter < 4 && p.seconds >= kPlainAfterSeconds) {
      quarters_ = quarter;
      std::fprintf(out_,
                   "  epoch %lld/%lld: batch %lld/%lld, loss %.3f, train acc %.3f, %.1f examples/sec, ETA %s (run %s)\n",
                   static_cast<long long>(p.epoch), static_cast<long long>(p.epochs), static_cast<long long>(p.batch),
                   static_cast<long long>(p.num_batches), p.loss, p.train_acc, p.examples_per_sec,
                   epoch_eta(p).c_str(), run_eta(p).c_str());
      std::fflush(out_);
    }
    return;
  }
  if (p.batch != p.num_batches && drawn_ &&
      std::chrono::duration<double>(Clock::now() - last_draw_).count() < kRedrawSeconds)
    return;
  draw(progress_line(p, epoch_eta(p), run_eta(p), width_));
}

void EpochProgress::evaluating(const train::EvalProgress& p) {
  if (!tty_) return;
  if (p.batch != p.num_batches && drawn_ &&
      std::chrono::duration<double>(Clock::now() - last_draw_).count() < kRedrawSeconds)
    return;
  char head[64];
  std::snprintf(head, sizeof head, "epoch %lld: evaluating ", static_cast<long long>(p.epoch));
  const int bar_width = std::clamp(width_ - 1 - static_cast<int>(std::strlen(head)) - 16, 0, kMaxBarWidth);
  char count[40];
  std::snprintf(count, sizeof count, " %lld/%lld", static_cast<long long>(p.batch), static_cast<long long>(p.num_batches));
  draw(head + (bar_width >= kMinBarWidth ? bar_of(p.batch, p.num_batches, bar_width) : std::string()) + count);
}

void EpochProgress::finish() {
  if (train_done_ != Clock::time_point{})
    eval_seconds_ = std::chrono::duration<double>(Clock::now() - train_done_).count();
  if (tty_ && drawn_) {
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace strata::cli
