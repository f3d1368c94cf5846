// Rank the intros of a dataset for one poster with a trained model:
//   example_match_posters RUN_DIR DATASET_DIR [ROW]
#include <clipmatch/dataset.hpp>
#include <clipmatch/error.hpp>
#include <clipmatch/model.hpp>

#include <algorithm>
#include <iostream>
#include <numeric>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " RUN_DIR DATASET_DIR [ROW]\n";
    return 2;
  }
  try {
    const auto model = clipmatch::Model::load(argv[1]);
    const auto data = clipmatch::load_dataset(argv[2]);
    const std::size_t row = argc > 3 ? std::stoul(argv[3]) : 0;
    std::vector<std::string> intros;
    for (const auto& movie : data.movies) intros.push_back(movie.intro);
    const auto poster = model.encode_posters({data.movies.at(row).poster});
    const auto distances = clipmatch::distance_matrix(poster, model.encode_intros(intros));
    std::vector<Eigen::Index> order(static_cast<std::size_t>(distances.cols()));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return distances(0, a) < distances(0, b); });
    std::cout << "poster of '" << data.movies[row].title << "' — nearest intros:\n";
    for (std::size_t k = 0; k < std::min<std::size_t>(5, order.size()); ++k) {
      const auto j = static_cast<std::size_t>(order[k]);
      std::cout << "  " << k + 1 << ". [" << distances(0, order[k]) << "] " << data.movies[j].title
                << (j == row ? "   <- its own intro" : "") << "\n";
    }
  } catch (const clipmatch::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
