// The data of an experiment; see run_data.hpp.
#include "experiment/run_data.hpp"

#include "common/error.hpp"
#include "data/image_transforms.hpp"
#include "data/variants.hpp"

namespace hpa::experiment {

std::unique_ptr<data::Dataset> load_run_dataset(const ExperimentSpec& spec, const std::string& data_dir) {
  std::unique_ptr<data::Dataset> dataset =
      data::load_dataset(data::dataset_name(spec.dataset), data_dir,
                         data::make_image_transform(spec.image_size, spec.eval_resize, spec.dct_scaling));
  if (spec.train_subset > 0) dataset->keep_first(data::Part::train, spec.train_subset);
  if (spec.test_subset > 0) dataset->keep_first(data::Part::test, spec.test_subset);
  if (spec.classes > 0)
    dataset = data::keep_classes(std::move(dataset), spec.classes, static_cast<uint64_t>(spec.class_seed));
  HPA_REQUIRE(!spec.pixel_shuffle || dataset->same_size_images(),
              "--pixel-shuffle: the images of --dataset " << data::dataset_name(spec.dataset)
                                                          << " are not all the same size (their pixel "
                                                             "positions cannot share one numbering)");
  return dataset;
}

SeedSamples seed_samples(const data::Dataset& dataset, const ExperimentSpec& spec, int64_t seed) {
  const uint64_t useed = static_cast<uint64_t>(seed);
  const data::Split split = data::split_validation(dataset.labels(data::Part::train), spec.val_fraction,
                                                   useed, spec.stratified, dataset.num_classes());
  const data::Normalization normalization = dataset.normalization(spec.normalization(), split.train);
  const data::Augment augment{spec.augment, spec.flips()};
  SeedSamples samples;
  samples.train = dataset.samples(data::Part::train, split.train, normalization, augment, useed);
  const uint64_t noise_seed = static_cast<uint64_t>(spec.noise_seed);
  if (spec.label_noise > 0)
    samples.train = data::with_label_noise(
        std::move(samples.train), data::noisy_labels(dataset.labels(data::Part::train), split.train,
                                                     dataset.num_classes(), spec.label_noise, noise_seed));
  if (spec.pixel_shuffle)
    samples.train = data::with_pixel_shuffle(std::move(samples.train), split.train, noise_seed);
  samples.validation =
      dataset.samples(data::Part::train, split.validation, normalization, data::Augment{}, useed);
  samples.test = dataset.samples(data::Part::test, data::all_indices(dataset.size(data::Part::test)),
                                 normalization, data::Augment{}, useed);
  return samples;
}

}  // namespace hpa::experiment
