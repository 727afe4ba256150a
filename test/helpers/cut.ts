/**
 * A spec with an `auto` block called NAME (its exit too): with 100 K edge MACs the cut falls after
 * NAME/conv2d_2 (8×8×2), so its second batch norm runs in the cloud on the received tensor
 * `NAME.c`. `edge` is added to the edge device's properties, e.g. `precision: fp16`.
 */
export function autoCutSpec(name = "far", edge = ""): string {
  return `
model cut
input image: u8[16, 16, 3]
labels 4
device edge: edge_int8_45nm { ${edge ? `${edge}\n  ` : ""}link: lte
  macs: 100 K }

block main on edge {
  exit main over all = dense(gap(relu(conv2d(image, 4))), num_classes)
}

block ${name} on auto {
  a = conv2d(image, 4, kernel: 3, bias: false)
  b = relu(batchnorm(a, epsilon: 0.2))
  c = conv2d(b, 2, kernel: 3, stride: 2, bias: false)
  d = relu(batchnorm(c, epsilon: 0.2))
  e = conv2d(d, 64, kernel: 3)
  f = max_pool(e, kernel: 2)
  g = conv2d(f, 32, kernel: 3)
  exit ${name} over all = dense(global_avg_pool(g), num_classes)
}

route {
  ${name} when entropy(main) > 0.5
  main otherwise
}
`;
}
