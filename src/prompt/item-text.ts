/**
 * How a run writes items into its prompts (TrainConfig.itemText): the dataset keeps each item's words and its item-id
 * token; this gives the dataset whose itemTokens are what the run's prompts hold, so the packer, the batches and the
 * prompt view read one field whatever the choice.
 */
import { ITEM_TEXTS, type ItemText, type TokenizedDataset } from './types';

const views = new WeakMap<TokenizedDataset, Map<ItemText, TokenizedDataset>>();

export function withItemText(dataset: TokenizedDataset, itemText: ItemText): TokenizedDataset {
  if (!ITEM_TEXTS.includes(itemText)) throw new Error(`item text must be one of ${ITEM_TEXTS.join(', ')} (got "${itemText}")`);
  if (itemText === 'words') return dataset;
  let byText = views.get(dataset);
  if (!byText) views.set(dataset, (byText = new Map()));
  let view = byText.get(itemText);
  if (!view) {
    const itemTokens = dataset.itemTokens.map((words, item) => {
      const id = dataset.itemIds[item];
      if (itemText === 'id') return Int32Array.of(id);
      // An item without text already has its id token as its only word.
      return words.length === 1 && words[0] === id ? words : Int32Array.of(id, ...words);
    });
    view = { ...dataset, itemTokens };
    byText.set(itemText, view);
  }
  return view;
}
