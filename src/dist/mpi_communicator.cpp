// The MPI communicator: MPI_COMM_WORLD, its collectives run by one communication thread.
//
// Open MPI progresses a non-blocking collective only while some thread is inside an MPI call, so
// an MPI_Iallreduce started during backward would mostly run at the final wait. Here every
// collective, blocking or not, is a task for one thread of this communicator that runs them one
// after another in the order they were called (the order MPI requires on every rank) with the
// blocking calls, which progress until done: an asynchronous all-reduce proceeds while the
// caller computes. Only that thread calls MPI between MPI_Init_thread and MPI_Finalize
// (MPI_THREAD_SERIALIZED), apart from MPI_Abort.
#include "dist/mpi_communicator.hpp"

#include <mpi.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "strata/error.hpp"

namespace strata::dist {
namespace {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(call, " failed: ", std::string(text, static_cast<std::size_t>(length)));
}

// An MPI call on `count` elements in pieces of at most INT_MAX (MPI's counts are int).
template <class T, class Call>
void in_pieces(T* data, std::size_t count, Call call) {
  for (std::size_t done = 0; done < count;) {
    const int piece = static_cast<int>(std::min<std::size_t>(count - done, INT_MAX));
    call(data + done, piece);
    done += static_cast<std::size_t>(piece);
  }
}

class FutureRequest final : public Request {
 public:
  explicit FutureRequest(std::future<void> done) : done_(std::move(done)) {}
  ~FutureRequest() override {
    if (done_.valid()) done_.wait();
  }
  void wait() override {
    if (done_.valid()) done_.get();
  }
  bool done() override {
    return !done_.valid() || done_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

 private:
  std::future<void> done_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = MPI_THREAD_SINGLE;
    if (initialized) {  // by the program that uses the library: it finalizes MPI too
      MPI_Query_thread(&provided);
    } else {
      // The communication thread waits inside MPI beside the model's threads: Open MPI's waits
      // then yield the core instead of spinning on it (unless the user chose otherwise).
      ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    STRATA_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI gives thread level ", provided,
                 " but Strata's communication thread needs MPI_THREAD_SERIALIZED (", MPI_THREAD_SERIALIZED,
                 "); initialise MPI with MPI_Init_thread(..., MPI_THREAD_SERIALIZED or MPI_THREAD_MULTIPLE, ...)");
    // Errors come back as codes (and then as strata::Error), not as MPI's default abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    library_ = std::string(version, static_cast<std::size_t>(length));
    library_ = library_.substr(0, library_.find_first_of(",\n"));
    thread_ = std::thread([this] { run(); });
  }

  ~MpiCommunicator() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "MPI (" + library_ + ")"; }

  void all_reduce_sum(std::span<float> data) override { all_reduce_sum_async(data)->wait(); }
  void all_reduce_sum(std::span<double> data) override {
    submit([data] {
      in_pieces(data.data(), data.size(), [](double* p, int n) {
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
      });
    }).get();
  }
  std::unique_ptr<Request> all_reduce_sum_async(std::span<float> data) override {
    return std::make_unique<FutureRequest>(submit([data] {
      in_pieces(data.data(), data.size(), [](float* p, int n) {
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
      });
    }));
  }
  void broadcast(std::span<std::byte> data, int root) override {
    STRATA_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " is not a rank of this job of ", size_);
    submit([data, root] {
      in_pieces(data.data(), data.size(), [root](std::byte* p, int n) {
        check_mpi(MPI_Bcast(p, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
      });
    }).get();
  }
  void barrier() override {
    submit([] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }).get();
  }
  [[noreturn]] void abort(const std::string& message, int exit_code) override {
    std::fprintf(stderr, "strata: error: rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  std::future<void> submit(std::function<void()> work) {
    std::packaged_task<void()> task(std::move(work));
    std::future<void> done = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
    return done;
  }

  void run() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping, nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();  // an exception is kept in the task's future for the caller
    }
  }

  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  std::string library_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace strata::dist
