/** The data layer of training: loaders for IDX and CIFAR files and image folders, dataset location, transforms, augmentation. */
export { dataError, isDataError, DATA_CODES } from "./errors.js";
export { readDataFile, isGzip } from "./files.js";
export { decodeIdxImages, decodeIdxLabels, encodeIdx, loadIdxDataset, loadIdxImages, loadIdxLabels, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxImages } from "./idx.js";
export { decodeCifar, loadCifar, cifarClasses, type CifarOptions, type CifarVariant } from "./cifar.js";
export { classHistogram, filterClasses, imageSize, shuffle, splitValidation, subset, take, type Dataset } from "./dataset.js";
export { mulberry32, permutation, randomInt, shuffleInPlace, type Rng } from "./rng.js";
export { randomCropFlip, type ImageBatch } from "./augment.js";
export { decodeImage, readImageFile, toInputPixels, IMAGE_EXTENSIONS, type DecodedImage } from "./images.js";
export { folderNameOf, scanImageFolder, loadFolderSplit, FOLDER_SPLIT_SEED, FOLDER_TEST_FRACTION, type FolderSplit, type ImageFolder } from "./folder.js";
export {
  datasetFor,
  isImageFolder,
  locateDataset,
  locateFor,
  loadSplit,
  labelNames,
  CIFAR10_LABELS,
  EMBEDDED_FASHION_MNIST_DIR,
  FASHION_MNIST_LABELS,
  MNIST_LABELS,
  PACKAGE_ROOT,
  SYSTEM_FASHION_MNIST_DIR,
  type DataSource,
  type DatasetKind,
  type LocatedDataset,
  type LocateOptions,
  type Split,
  type SpecData,
  type SplitFiles,
} from "./locate.js";
