/** tfjs layer names: the IR node name with characters tfjs rejects replaced. Weights are saved as `<layer>/<kind>`. */
export function layerName(name: string): string {
  return name.replace(/[^A-Za-z0-9._/-]/g, "_");
}
